"""Generated binding classes, one module per XSD namespace (regenerate: `v2g schemas compile`)."""
