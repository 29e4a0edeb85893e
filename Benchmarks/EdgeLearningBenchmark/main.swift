// placeholder
print("edge-learning-benchmark")
