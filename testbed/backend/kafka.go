package backend

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	// KafkaVersion is the broker release (Scala 2.13 build) fetched from Maven Central.
	KafkaVersion = "3.9.1"
	// EnvKafkaBrokers names running brokers to reuse, comma separated host:port.
	EnvKafkaBrokers = "SLUICE_KAFKA_BROKERS"
	kafkaReadyWait  = 3 * time.Minute
	kafkaHeap       = "-Xmx512m"
)

// kafkaPom pulls the broker and a logging binding (the 3.9 POM has none).
const kafkaPom = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>sluice.testbed</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>` + KafkaVersion + `</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
`

const kafkaLog4j = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=WARN
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.state.change.logger=WARN
`

// Kafka is a single-node KRaft broker+controller.
type Kafka struct {
	instance
	// Brokers are the bootstrap addresses, e.g. ["127.0.0.1:PORT"].
	Brokers []string
}

// KafkaFor returns the brokers named by SLUICE_KAFKA_BROKERS, or starts a
// private broker stopped in t.Cleanup.
func KafkaFor(t testing.TB) *Kafka {
	t.Helper()
	if b := os.Getenv(EnvKafkaBrokers); b != "" {
		k := &Kafka{Brokers: strings.Split(b, ",")}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := kafkaReady(ctx, k.Brokers); err != nil {
			t.Fatalf("%s=%s is set but not reachable: %v", EnvKafkaBrokers, b, err)
		}
		return k
	}
	k, err := StartKafka(context.Background(), Options{Logf: t.Logf})
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(func() { k.stopAfter(t, "kafka") })
	return k
}

// StartKafka installs (once) and starts a KRaft broker.
func StartKafka(ctx context.Context, opts Options) (*Kafka, error) {
	javaHome, err := findJavaHome("kafka")
	if err != nil {
		return nil, err
	}
	java := filepath.Join(javaHome, "bin", "java")
	began := time.Now()
	home, err := installKafka(ctx)
	if err != nil {
		return nil, err
	}
	installTime := time.Since(began)
	runDir, temp, err := makeRunDir(opts.RunDir, "kafka")
	if err != nil {
		return nil, err
	}
	classpath := filepath.Join(home, "lib", "*") // expanded by java itself
	log4j := "-Dlog4j.configuration=file:" + filepath.Join(home, "log4j.properties")

	start := func(ports []int) (*Process, error) {
		dataDir := filepath.Join(runDir, "data")
		if err := os.RemoveAll(dataDir); err != nil { // a retry must not see the old cluster id
			return nil, fmt.Errorf("clean kafka data dir: %w", err)
		}
		props := filepath.Join(runDir, "server.properties")
		if err := os.WriteFile(props, []byte(kafkaProperties(ports[0], ports[1], dataDir)), 0o644); err != nil {
			return nil, fmt.Errorf("write kafka server.properties: %w", err)
		}
		clusterID, err := kafkaClusterID()
		if err != nil {
			return nil, err
		}
		if err := runLogged(ctx, runDir, nil, java, "-cp", classpath, log4j, "kafka.tools.StorageTool",
			"format", "-t", clusterID, "-c", props, "--ignore-formatted"); err != nil {
			return nil, fmt.Errorf("format kafka storage: %w", err)
		}
		cmd := exec.Command(java, kafkaHeap, "-cp", classpath, log4j, "kafka.Kafka", props)
		cmd.Dir = runDir
		return StartProcess("kafka", cmd, filepath.Join(runDir, "server.log"))
	}
	ready := func(ctx context.Context, ports []int) error {
		return kafkaReady(ctx, []string{"127.0.0.1:" + strconv.Itoa(ports[0])})
	}
	proc, ports, startTime, err := launch(ctx, "kafka", 2, kafkaReadyWait, start, ready)
	if err != nil {
		return nil, err // run dir kept: its server.log explains the failure
	}
	k := &Kafka{
		instance: instance{proc: proc, runDir: runDir, tempRunDir: temp, InstallTime: installTime, StartTime: startTime},
		Brokers:  []string{"127.0.0.1:" + strconv.Itoa(ports[0])},
	}
	opts.logf("kafka %s at %s: install %s, start %s", KafkaVersion, k.Brokers[0], installTime.Round(time.Millisecond), startTime.Round(time.Millisecond))
	return k, nil
}

func kafkaProperties(brokerPort, controllerPort int, dataDir string) string {
	b, c := strconv.Itoa(brokerPort), strconv.Itoa(controllerPort)
	return strings.Join([]string{
		"process.roles=broker,controller",
		"node.id=1",
		"controller.quorum.voters=1@127.0.0.1:" + c,
		"listeners=PLAINTEXT://127.0.0.1:" + b + ",CONTROLLER://127.0.0.1:" + c,
		"advertised.listeners=PLAINTEXT://127.0.0.1:" + b,
		"controller.listener.names=CONTROLLER",
		"inter.broker.listener.name=PLAINTEXT",
		"listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
		"log.dirs=" + dataDir,
		"num.partitions=1",
		"auto.create.topics.enable=true",
		"offsets.topic.replication.factor=1",
		"offsets.topic.num.partitions=1",
		"transaction.state.log.replication.factor=1",
		"transaction.state.log.min.isr=1",
		"group.initial.rebalance.delay.ms=0",
		"",
	}, "\n")
}

// kafkaClusterID makes a Kafka-style id: 16 random bytes, base64url, not
// starting with '-' (the CLI would read it as a flag).
func kafkaClusterID() (string, error) {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("random cluster id: %w", err)
		}
		id := base64.RawURLEncoding.EncodeToString(b[:])
		if id[0] != '-' {
			return id, nil
		}
	}
}

// kafkaReady asks the broker for its metadata.
func kafkaReady(ctx context.Context, brokers []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	meta, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return fmt.Errorf("kafka metadata: %w", err)
	}
	if len(meta.Brokers) == 0 {
		return fmt.Errorf("kafka metadata lists no brokers")
	}
	return nil
}

// installKafka resolves the broker jars with Maven into cache/kafka-<ver>/lib.
func installKafka(ctx context.Context) (string, error) {
	if _, err := needCommand("kafka", "mvn", "install Maven, e.g. apt-get install maven"); err != nil {
		return "", err
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	return InstallOnce(cache, "kafka-"+KafkaVersion, func(staging string) error {
		if err := os.WriteFile(filepath.Join(staging, "pom.xml"), []byte(kafkaPom), 0o644); err != nil {
			return fmt.Errorf("write kafka pom: %w", err)
		}
		if err := os.WriteFile(filepath.Join(staging, "log4j.properties"), []byte(kafkaLog4j), 0o644); err != nil {
			return fmt.Errorf("write kafka log4j.properties: %w", err)
		}
		return runMaven(ctx, staging, "-q", "-B", mavenDependencyPlug+":copy-dependencies",
			"-DincludeScope=runtime", "-DoutputDirectory=lib")
	})
}
