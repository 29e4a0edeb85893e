print("fleet-node")
