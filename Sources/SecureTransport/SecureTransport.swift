enum SecureTransportNamespace {}
