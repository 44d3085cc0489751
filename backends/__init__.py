"""The backends: the TVM backend (`tvm/`) lowers optimised IR into kernels and an execution plan."""
