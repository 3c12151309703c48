# Three memcached nodes on 127.0.0.1:21211-21213 for the hashing tests.
start_memcached() {
    need_packages memcached:memcached
    local addrs=()
    for port in 21211 21212 21213; do
        spawn "memcached-$port" memcached -u root -l 127.0.0.1 -p "$port" -U 0 -m 64
        addrs+=("memcache://127.0.0.1:$port")
    done
    for port in 21211 21212 21213; do
        wait_port 127.0.0.1 "$port" "memcached-$port"
    done
    echo "export FIBRA_MEMCACHED_URL=$(IFS=,; echo "${addrs[*]}")" >>"$ENV_FILE"
}
