"""The pure core: names, filenames, the model, content negotiation and renderers. No I/O."""
