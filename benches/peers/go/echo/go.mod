module fibra.invalid/benches/peers/go/echo

go 1.19
