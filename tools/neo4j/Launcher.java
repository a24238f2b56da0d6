// Neo4j Community 5.26 embedded with Bolt, for tests and local runs (no Docker, no install).
//
// Single-file program, run without a compile step (the classpath comes from tools/neo4j/pom.xml):
//
//   mvn -q -f tools/neo4j/pom.xml dependency:build-classpath -Dmdep.outputFile=cp.txt
//   java -Xmx768m -XX:+UseSerialGC \
//        --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
//        --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \
//        -Dio.netty.tryReflectionSetAccessible=true \
//        -cp "$(cat cp.txt)" tools/neo4j/Launcher.java --port 7687 --data /tmp/neo4j-data
//
// (`python -m tests.neo4j_server --run` does all of that for you.)
//
// Options (each also readable from a system property, e.g. -Dneo4j.port=7687):
//   --port N          Bolt port (neo4j.port, default 7687); 0 = any free port (the READY line tells which)
//   --host H          Bolt listen host (neo4j.host, default 127.0.0.1)
//   --data DIR        home directory holding data/ and logs/ (neo4j.data, default ./neo4j-data)
//   --pagecache SIZE  page cache, e.g. 64m (neo4j.pagecache, default 64m)
//   --conf FILE       extra neo4j.conf-style settings, applied after the defaults (neo4j.conf)
//   --no-stdin-watch  do not stop on stdin EOF (neo4j.stdinWatch=false), e.g. when run with </dev/null
//
// Behaviour: authentication disabled, HTTP and usage reporting off, Bolt unencrypted, short shutdown waits. Prints exactly one line
// `READY bolt://HOST:PORT` on stdout once Bolt accepts connections (everything else goes to stderr and
// DIR/logs). Stops cleanly (checkpoint, store closed) on SIGTERM/SIGINT and, unless disabled, when stdin reaches
// EOF, so a parent that dies without cleaning up still takes the server with it. Exit status 1 if start-up fails.

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.ConnectorPortRegister;
import org.neo4j.configuration.connectors.ConnectorType;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.internal.helpers.HostnamePort;
import org.neo4j.io.ByteUnit;
import org.neo4j.kernel.internal.GraphDatabaseAPI;

public class Launcher {

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = parse(args);
        String host = opts.getOrDefault("host", "127.0.0.1");
        int port = Integer.parseInt(opts.getOrDefault("port", "7687"));
        Path home = Path.of(opts.getOrDefault("data", "neo4j-data")).toAbsolutePath();
        String pagecache = opts.getOrDefault("pagecache", "64m");
        boolean watchStdin = Boolean.parseBoolean(opts.getOrDefault("stdinWatch", "true"));
        long started = System.nanoTime();

        DatabaseManagementService dbms;
        try {
            Files.createDirectories(home);
            DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home)
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                    .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                    .setConfig(HttpConnector.enabled, false)
                    .setConfig(HttpsConnector.enabled, false)
                    .setConfig(GraphDatabaseSettings.auth_enabled, false)
                    .setConfig(GraphDatabaseSettings.udc_enabled, false)
                    .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.parse(pagecache))
                    .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                    .setConfig(GraphDatabaseSettings.preallocate_store_files, false)
                    // A throwaway test server: do not linger for 2 x 5 s in Bolt/Netty shutdown.
                    .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                    .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(2))
                    .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofMillis(500))
                    .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                    .setConfig(BoltConnectorInternalSettings.enable_local_connector, false);
            if (opts.containsKey("conf")) {
                builder.loadPropertiesFromFile(Path.of(opts.get("conf")));
            }
            dbms = builder.build();
        } catch (Throwable e) {
            System.err.println("FAILED to start Neo4j: " + e);
            e.printStackTrace();
            System.out.println("FAILED " + e.getMessage());
            System.out.flush();
            System.exit(1);
            return;
        }

        AtomicBoolean stopped = new AtomicBoolean(false);
        final DatabaseManagementService service = dbms;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (stopped.compareAndSet(false, true)) {
                System.err.println("Launcher: shutting down Neo4j");
                try {
                    service.shutdown();
                    System.err.println("Launcher: Neo4j stopped");
                } catch (Throwable e) {
                    System.err.println("Launcher: error while shutting down: " + e);
                }
            }
        }, "neo4j-shutdown"));

        try {
            GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
            if (!db.isAvailable(TimeUnit.MINUTES.toMillis(2))) {
                throw new IllegalStateException("database did not become available");
            }
            int boltPort = boltPort((GraphDatabaseAPI) db, port);
            waitForSocket(host, boltPort, Duration.ofMinutes(1));
            System.err.printf("Launcher: Neo4j %s up in %d ms (home %s)%n",
                    org.neo4j.kernel.internal.Version.getNeo4jVersion(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), home);
            System.out.println("READY bolt://" + host + ":" + boltPort);
            System.out.flush();
        } catch (Throwable e) {
            System.err.println("FAILED to start Neo4j: " + e);
            e.printStackTrace();
            System.out.println("FAILED " + e.getMessage());
            System.out.flush();
            System.exit(1);
        }

        if (watchStdin) {
            Thread watcher = new Thread(() -> {
                drain(System.in);
                System.err.println("Launcher: stdin closed");
                System.exit(0);
            }, "stdin-watch");
            watcher.setDaemon(true);
            watcher.start();
        }
        // Keep the main thread alive; the JVM exits through System.exit or a signal (both run the hook).
        Thread.currentThread().join();
    }

    private static int boltPort(GraphDatabaseAPI db, int requested) {
        try {
            HostnamePort bound = db.getDependencyResolver()
                    .resolveDependency(ConnectorPortRegister.class)
                    .getLocalAddress(ConnectorType.BOLT);
            if (bound != null) {
                return bound.getPort();
            }
        } catch (RuntimeException e) {
            System.err.println("Launcher: could not read the bound Bolt port: " + e);
        }
        if (requested == 0) {
            throw new IllegalStateException("Bolt port 0 requested but the bound port is unknown");
        }
        return requested;
    }

    private static void waitForSocket(String host, int port, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(host, port), 1000);
                return;
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("Bolt is not accepting connections on " + host + ":" + port, e);
                }
                Thread.sleep(50);
            }
        }
    }

    private static void drain(InputStream in) {
        byte[] buffer = new byte[1024];
        try {
            while (in.read(buffer) >= 0) {
                // ignore input; only EOF matters
            }
        } catch (IOException ignored) {
            // a broken pipe is EOF as well
        }
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> opts = new HashMap<>();
        for (String key : new String[] {"host", "port", "data", "pagecache", "conf", "stdinWatch"}) {
            String value = System.getProperty("neo4j." + key);
            if (value != null) {
                opts.put(key, value);
            }
        }
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("--no-stdin-watch")) {
                opts.put("stdinWatch", "false");
                continue;
            }
            if (!arg.startsWith("--")) {
                usage("unexpected argument " + arg);
            }
            String key = arg.substring(2);
            String value;
            int eq = key.indexOf('=');
            if (eq >= 0) {
                value = key.substring(eq + 1);
                key = key.substring(0, eq);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                usage("missing value for " + arg);
                return opts;
            }
            if (!key.matches("host|port|data|pagecache|conf")) {
                usage("unknown option " + arg);
            }
            opts.put(key, value);
        }
        return opts;
    }

    private static void usage(String problem) {
        System.err.println("Launcher: " + problem);
        System.err.println("usage: java -cp CLASSPATH Launcher.java [--port N] [--host H] [--data DIR]"
                + " [--pagecache 64m] [--conf FILE] [--no-stdin-watch]");
        System.exit(2);
    }
}
