"""Generated compiled terms of the input-layer mixture expansion."""
