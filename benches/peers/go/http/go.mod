module fibra.invalid/benches/peers/go/http

go 1.19
