enum PolicyNetworkNamespace {}
