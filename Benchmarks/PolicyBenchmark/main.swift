import PolicyNetwork
print("policy benchmark")
