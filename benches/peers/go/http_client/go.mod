module fibra/bench/http_client

go 1.19
