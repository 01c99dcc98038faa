"""Fault injection for the real pipeline: a scripted camera device, frame painters, a flaky output, and a
harness that runs a fault and measures leaks, stream gaps and recovery. The camera device and the output
driver are the only doubles; the tracker, filters and pipeline are real."""
