print("tls-benchmark")
