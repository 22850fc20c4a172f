// node-dtls-client requires node-aead-crypto only on Node < 10; Gauntlet needs Node >= 20.
throw new Error('node-aead-crypto is not installed: Node >= 10 provides AES-CCM/GCM natively (see package.json overrides)');
