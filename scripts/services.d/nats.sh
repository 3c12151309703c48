# nats-server (Debian's 2.9) on loopback for the fibra-nats tests:
#   14222        a single server
#   14231-14233  a 3-node cluster (routes on 16231-16233)
#   14241        token auth        14242  user/password auth
#   14243        nkey auth (a fixed test key; never use it elsewhere)
#   14250        JetStream (store under $SERVICES_DIR/nats-js)
# Exports FIBRA_NATS_* variables to $ENV_FILE.

# The test user's nkey: seed (the client's secret) and public key.
NATS_TEST_NKEY_SEED=SUAACAQDAQCQMBYIBEFAWDANBYHRAEISCMKBKFQXDAMRUGY4DUPB6IC5CQ
NATS_TEST_NKEY_PUBLIC=UB43KVROR7TFJ6KAPCYRF2FJROTZAH4FHLTJLPWX4DRZCC5NASLGJBFE

start_nats() {
    need_packages nats-server:nats-server
    local dir="$SERVICES_DIR/nats"
    rm -rf "$dir"
    mkdir -p "$dir/js"
    local common=(-a 127.0.0.1)

    spawn nats-14222 nats-server "${common[@]}" -p 14222 -n fibra-single

    local routes=nats://127.0.0.1:16231,nats://127.0.0.1:16232,nats://127.0.0.1:16233
    for i in 1 2 3; do
        spawn "nats-1423$i" nats-server "${common[@]}" -p "1423$i" -n "fibra-c$i" \
            --cluster_name fibra --cluster "nats://127.0.0.1:1623$i" --routes "$routes"
    done

    spawn nats-14241 nats-server "${common[@]}" -p 14241 --auth fibra-token
    spawn nats-14242 nats-server "${common[@]}" -p 14242 --user fibra --pass fibra-pass

    cat >"$dir/nkey.conf" <<CONF
host: 127.0.0.1
port: 14243
authorization {
  users = [ { nkey: $NATS_TEST_NKEY_PUBLIC } ]
}
CONF
    spawn nats-14243 nats-server -c "$dir/nkey.conf"

    spawn nats-14250 nats-server "${common[@]}" -p 14250 -js -sd "$dir/js"

    for port in 14222 14231 14232 14233 14241 14242 14243 14250; do
        wait_port 127.0.0.1 "$port" "nats-$port"
    done
    {
        echo "export FIBRA_NATS_URL=nats://127.0.0.1:14222"
        echo "export FIBRA_NATS_CLUSTER_URLS=nats://127.0.0.1:14231,nats://127.0.0.1:14232,nats://127.0.0.1:14233"
        echo "export FIBRA_NATS_TOKEN_URL=nats://127.0.0.1:14241"
        echo "export FIBRA_NATS_TOKEN=fibra-token"
        echo "export FIBRA_NATS_USERPASS_URL=nats://127.0.0.1:14242"
        echo "export FIBRA_NATS_USER=fibra"
        echo "export FIBRA_NATS_PASS=fibra-pass"
        echo "export FIBRA_NATS_NKEY_URL=nats://127.0.0.1:14243"
        echo "export FIBRA_NATS_NKEY_SEED=$NATS_TEST_NKEY_SEED"
        echo "export FIBRA_NATS_JS_URL=nats://127.0.0.1:14250"
    } >>"$ENV_FILE"
}
