#!/bin/sh
# Starts the broker of infra/docker-compose.yml secured: one SASL_SSL listener (SCRAM-SHA-512),
# the controller listener on TLS with client certificates, ACLs enforced. The SCRAM users are
# created when the log dir is formatted, from the password files of the mounted security
# folder (docs/security.md); the generated properties stay inside the container.
set -eu
S=/etc/devmetrics/security
DATA=/var/lib/kafka/data
PROPS=/tmp/devmetrics-server.properties
admin=$(cat "$S/secrets/kafka-admin")
umask 077
cat > "$PROPS" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:19093
listeners=SASL_SSL://127.0.0.1:9092,CONTROLLER://127.0.0.1:19093
advertised.listeners=SASL_SSL://127.0.0.1:9092
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
ssl.keystore.type=PEM
ssl.keystore.location=$S/certs/kafka.pem
ssl.truststore.type=PEM
ssl.truststore.location=$S/ca.crt
ssl.endpoint.identification.algorithm=https
listener.name.controller.ssl.client.auth=required
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:CN=kafka
allow.everyone.if.no.acl.found=false
log.dirs=$DATA
num.partitions=12
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
message.max.bytes=8388608
PROPERTIES
if [ ! -f "$DATA/meta.properties" ]; then
  set --
  for user in admin producer processor exporter; do
    set -- "$@" --add-scram "SCRAM-SHA-512=[name=$user,password=$(cat "$S/secrets/kafka-$user")]"
  done
  /opt/kafka/bin/kafka-storage.sh format -t "$(/opt/kafka/bin/kafka-storage.sh random-uuid)" \
    -c "$PROPS" "$@"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$PROPS"
