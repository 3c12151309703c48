# PostgreSQL 15 on 127.0.0.1:15432 and a Unix socket, for the fibra-postgres
# tests: a `fibra` database and one role per authentication method
# (trust_user: trust, scram_user: scram-sha-256, md5_user: md5,
# pass_user: cleartext password). PostgreSQL refuses to run as root, so the
# cluster belongs to the `postgres` user.
PG_BIN=/usr/lib/postgresql/15/bin

start_postgres() {
    need_packages "$PG_BIN/initdb:postgresql"
    local dir="$SERVICES_DIR/postgres" port=15432
    local data="$dir/data" sock="$dir/sock"
    rm -rf "$dir"
    mkdir -p "$data" "$sock"
    chown -R postgres: "$dir"
    chmod 700 "$data"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust \
        -E UTF8 --locale=C.UTF-8 >"$SERVICES_DIR/postgres-initdb.log" 2>&1
    cat >"$data/pg_hba.conf" <<'HBA'
# TYPE  DATABASE  USER        ADDRESS       METHOD
local   all       postgres                  trust
local   all       trust_user                trust
local   all       scram_user                scram-sha-256
local   all       md5_user                  md5
local   all       pass_user                 password
host    all       postgres    127.0.0.1/32  trust
host    all       trust_user  127.0.0.1/32  trust
host    all       scram_user  127.0.0.1/32  scram-sha-256
host    all       md5_user    127.0.0.1/32  md5
host    all       pass_user   127.0.0.1/32  password
HBA
    chown postgres: "$data/pg_hba.conf"
    # TLS: a private CA and a server certificate for localhost/127.0.0.1,
    # for the sslmode tests (clients trust $dir/ca.crt).
    local tls=()
    if command -v openssl >/dev/null 2>&1; then
        (
            cd "$dir"
            openssl req -x509 -new -nodes -newkey rsa:2048 -days 3650 -subj "/CN=fibra test CA" \
                -keyout ca.key -out ca.crt
            openssl req -new -nodes -newkey rsa:2048 -subj "/CN=localhost" \
                -keyout server.key -out server.csr
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >server.ext
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
                -days 3650 -extfile server.ext -out server.crt
        ) >"$SERVICES_DIR/postgres-tls.log" 2>&1
        chown postgres: "$dir/server.key" "$dir/server.crt"
        chmod 600 "$dir/server.key"
        tls=(-c ssl=on -c "ssl_cert_file=$dir/server.crt" -c "ssl_key_file=$dir/server.key")
        echo "export FIBRA_POSTGRES_SSL_ROOT_CERT=$dir/ca.crt" >>"$ENV_FILE"
    fi
    # The server runs in the foreground of a small wrapper, so its PID lands
    # in the pids file: SIGTERM from `scripts/services stop` becomes a fast
    # shutdown (SIGINT), which does not wait for clients to disconnect.
    spawn postgres bash -c 'setpriv --reuid=postgres --regid=postgres --init-groups -- "$@" & pid=$!
        trap "kill -INT $pid" TERM; wait $pid; wait $pid' postgres-wrapper \
        "$PG_BIN/postgres" -D "$data" -p "$port" -k "$sock" \
        -c listen_addresses=127.0.0.1 -c max_connections=200 \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
        -c restart_after_crash=on "${tls[@]}"
    wait_port 127.0.0.1 "$port" postgres
    local psql=(runuser -u postgres -- "$PG_BIN/psql" -h "$sock" -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1)
    for _ in $(seq 1 100); do
        "${psql[@]}" -d postgres -c 'select 1' >/dev/null 2>&1 && break
        sleep 0.1
    done
    "${psql[@]}" -d postgres >>"$SERVICES_DIR/postgres-setup.log" 2>&1 <<'SQL'
CREATE ROLE trust_user LOGIN SUPERUSER;
SET password_encryption = 'scram-sha-256';
CREATE ROLE scram_user LOGIN PASSWORD 'scram_pass';
CREATE ROLE pass_user LOGIN PASSWORD 'pass_pass';
SET password_encryption = 'md5';
CREATE ROLE md5_user LOGIN PASSWORD 'md5_pass';
CREATE DATABASE fibra OWNER trust_user;
SQL
    "${psql[@]}" -d fibra >>"$SERVICES_DIR/postgres-setup.log" 2>&1 <<'SQL'
GRANT ALL ON SCHEMA public TO PUBLIC;
GRANT ALL ON DATABASE fibra TO PUBLIC;
SQL
    {
        echo "export FIBRA_POSTGRES_URL=postgres://trust_user@127.0.0.1:$port/fibra"
        echo "export FIBRA_POSTGRES_HOST=127.0.0.1"
        echo "export FIBRA_POSTGRES_PORT=$port"
        echo "export FIBRA_POSTGRES_SOCKET_DIR=$sock"
        echo "export FIBRA_POSTGRES_DATABASE=fibra"
        echo "export FIBRA_POSTGRES_TRUST_USER=trust_user"
        echo "export FIBRA_POSTGRES_SCRAM_USER=scram_user"
        echo "export FIBRA_POSTGRES_SCRAM_PASSWORD=scram_pass"
        echo "export FIBRA_POSTGRES_MD5_USER=md5_user"
        echo "export FIBRA_POSTGRES_MD5_PASSWORD=md5_pass"
        echo "export FIBRA_POSTGRES_PASS_USER=pass_user"
        echo "export FIBRA_POSTGRES_PASS_PASSWORD=pass_pass"
        echo "export FIBRA_POSTGRES_BIN=$PG_BIN"
    } >>"$ENV_FILE"
}

# Stops a server the pids file missed (e.g. the wrapper died first).
stop_postgres() {
    local data="$SERVICES_DIR/postgres/data"
    if [ -f "$data/postmaster.pid" ]; then
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" stop -m immediate >/dev/null 2>&1 || true
    fi
}
