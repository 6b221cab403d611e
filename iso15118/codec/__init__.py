"""Message encoding and decoding: the V2GTP payload type chooses the schema set and its grammar."""
