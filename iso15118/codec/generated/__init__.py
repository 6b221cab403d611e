"""Generated EXI codecs (one module per schema set). Regenerate with `v2g schemas compile`."""
