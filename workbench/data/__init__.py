"""Scene stacks, readers and writers, the CaFFe reader, synthetic scenes and patch datasets."""
