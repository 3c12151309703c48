// Command echo is Go's TCP echo server for scripts/bench-net: a goroutine
// per connection, each a plain read/write loop, like fibra's
// examples/echo.rs. The script runs it with GOMAXPROCS=2, as many workers
// as fibra's, tokio's and may's.
//
//	echo [ADDR]    # default 127.0.0.1:7000; prints "listening on ADDR"
package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"
)

func main() {
	addr := "127.0.0.1:7000"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	for {
		conn, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go echo(conn)
	}
}

// echo sends back everything it reads until the peer closes its side.
func echo(conn net.Conn) {
	defer conn.Close()
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if _, werr := conn.Write(buf[:n]); werr != nil {
				log.Printf("connection: %v", werr)
				return
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			log.Printf("connection: %v", err)
			return
		}
	}
}
