module fibra.invalid/benches/peers/go/chan

go 1.19
