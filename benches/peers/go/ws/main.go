// Go gorilla/websocket peer of fibra's WebSocket echo benchmark
// (scripts/bench-ws): echoes every text and binary message, as fibra's
// examples/ws_echo.rs does.
//
//	ws [ADDR]   (default 127.0.0.1:9001; run with GOMAXPROCS=2)
//
// Built in GOPATH mode against Debian's golang-github-gorilla-websocket-dev
// (GO111MODULE=off GOPATH=/usr/share/gocode), as scripts/bench-ws does.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	CheckOrigin:     func(*http.Request) bool { return true },
}

func echo(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	for {
		kind, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(kind, msg); err != nil {
			return
		}
	}
}

func main() {
	addr := "127.0.0.1:9001"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ws echo on ws://%s/\n", ln.Addr())
	log.Fatal(http.Serve(ln, http.HandlerFunc(echo)))
}
