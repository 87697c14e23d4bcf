"""The networks of CCVS: blocks, flow module, autoencoder, quantizer, discriminators (and later the transformer)."""
