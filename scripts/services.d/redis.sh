# Redis on 127.0.0.1:16379 (no password) for the fibra-redis tests.
start_redis() {
    # openssl: fibra-redis's TLS test makes a throwaway CA with it.
    need_packages redis-server:redis-server openssl:openssl
    local dir="$SERVICES_DIR/redis"
    mkdir -p "$dir"
    spawn redis redis-server --bind 127.0.0.1 --port 16379 --dir "$dir" \
        --save '' --appendonly no --protected-mode yes
    wait_port 127.0.0.1 16379 redis
    echo "export FIBRA_REDIS_URL=redis://127.0.0.1:16379/" >>"$ENV_FILE"
}
