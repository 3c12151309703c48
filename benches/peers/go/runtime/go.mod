module fibra.invalid/benches/peers/go/runtime

go 1.19
