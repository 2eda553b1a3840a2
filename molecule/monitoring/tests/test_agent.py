"""The exporters as Prometheus sees them: each answers on loopback only, with the values of this server."""

import json
import re
import time

import pytest

SHOP, STATIC = "shop.example.test", "static.example.test"
SHOP_POOL = "shop_example_test"
EXPORTERS = {"node": 9100, "nginx": 9113, "mysqld": 9104, "redis": 9121, "process": 9256}


def metrics(host, port):
    return host.check_output(f"curl -sf --max-time 10 http://127.0.0.1:{port}/metrics")


def sample(text, metric, **labels):
    """The value of the first sample of metric with these labels (a subset), or None."""
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != metric:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(4))
    return None


def wait_for(predicate, timeout=60, interval=1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.mark.parametrize("port", EXPORTERS.values(), ids=EXPORTERS.keys())
def test_exporter_listens_on_loopback_only(host, probe, instance_ip, port):
    listeners = host.check_output(f"ss -Hltn 'sport = :{port}'")
    assert listeners and all(" 127.0.0.1:" in line for line in listeners.splitlines()), listeners
    assert probe.tcp_connect(instance_ip, port) in ("refused", "timeout")


def test_node_exporter_reports_the_units_that_matter_only(host):
    text = metrics(host, 9100)
    assert sample(text, "node_systemd_unit_state", name="nginx.service", state="active") == 1
    assert sample(text, "node_systemd_unit_state", name="php8.2-fpm.service", state="active") == 1
    assert sample(text, "node_systemd_unit_state", name="cron.service", state="active") is None


def test_node_exporter_runs_the_named_collectors_only(host):
    """The rules' and status page's collectors and monitoring_agent_node_exporter_collectors; none of the other 40 or
    so node_exporter runs by default (netstat, sockstat, timex...)."""
    text = metrics(host, 9100)
    running = sorted(re.findall(r'^node_scrape_collector_success\{collector="([a-z_]+)"\} 1$', text, re.MULTILINE))
    named = ["cpu", "diskstats", "filesystem", "loadavg", "meminfo", "netdev", "stat", "systemd", "textfile", "time"]
    assert running == [*named, "uname"]
    assert sample(text, "node_netstat_Tcp_ActiveOpens") is None
    assert sample(text, "node_load15") is not None


def test_php_fpm_metrics_per_site(host):
    def shop_up():
        text = metrics(host, 9100)
        return text if sample(text, "wpzo_php_fpm_up", site=SHOP, pool=SHOP_POOL) == 1 else None

    text = wait_for(shop_up)
    assert text, "no wpzo_php_fpm_up 1 for the shop's pool"
    assert sample(text, "wpzo_php_fpm_max_children", site=SHOP) == 5
    assert sample(text, "wpzo_php_fpm_listen_queue", site=SHOP) == 0
    assert sample(text, "wpzo_php_fpm_up", site=STATIC) is None  # a static site has no pool
    assert host.file("/var/lib/prometheus/node-exporter/wpzo_php_fpm.prom").mode == 0o644


def test_mysqld_exporter_logs_in_with_its_own_user(host):
    assert sample(metrics(host, 9104), "mysql_up") == 1
    cnf = host.file("/etc/prometheus/mysqld-exporter.cnf")
    assert (cnf.user, cnf.mode) == ("prometheus", 0o600)
    grants = host.check_output("mariadb -N -e \"SHOW GRANTS FOR 'prometheus'@'localhost'\"")
    assert "GRANT PROCESS, BINLOG MONITOR ON *.*" in grants or "GRANT PROCESS, REPLICATION CLIENT ON *.*" in grants
    assert "SELECT" not in grants


def test_redis_exporter_logs_in_with_its_own_user(host):
    text = metrics(host, 9121)
    assert sample(text, "redis_up") == 1
    assert host.file("/etc/default/prometheus-redis-exporter").mode == 0o600
    assert "REDIS_PASSWORD" not in host.check_output("ps -eo args")


def test_process_exporter_groups_each_pool(host):
    curl = "curl -s -o /dev/null --max-time 10 --resolve shop.example.test:80:127.0.0.1 http://shop.example.test/"
    host.run(curl)  # an ondemand pool has workers only while it serves
    text = metrics(host, 9256)
    assert sample(text, "namedprocess_namegroup_num_procs", groupname="nginx") >= 1
    assert f'groupname="php-fpm:{SHOP_POOL}"' in text
    # -gather-smaps=false: no reading of every process's smaps at each scrape, so no proportional memory.
    assert 'memtype="resident"' in text and "proportionalResident" not in text


def test_wordpress_core_at_the_wanted_version_is_not_behind(host):
    """prepare.yml's core is the version the inventory asks for (molecule.yml's monitoring_agent_wordpress_sites)."""

    def behind():
        return sample(metrics(host, 9100), "wpzo_wordpress_core_behind", site=SHOP, installed="6.4.2", wanted="6.4.2")

    assert wait_for(lambda: behind() is not None), "no wpzo_wordpress_core_behind for the shop"
    assert behind() == 0


def scraped_names(host, selector, label="__name__"):
    """The values of a label (the metric names by default) of the series Prometheus holds for a selector, from its
    series API."""
    query = f"curl -s --max-time 10 -G http://127.0.0.1:9090/api/v1/series --data-urlencode 'match[]={selector}'"
    return sorted({series[label] for series in json.loads(host.check_output(query))["data"]})


def test_prometheus_keeps_the_pools_cpu_and_memory_and_drops_the_series_nothing_reads(host):
    """The exporters serve every series; Prometheus keeps of process-exporter's 21 a group the count, CPU and resident
    memory (monitoring_server_process_memory_types), and none of the MariaDB exporter's copy of the server's settings
    (monitoring_server_dropped_metrics)."""
    pool = f'{{job="process",groupname="php-fpm:{SHOP_POOL}"}}'
    kept = [
        "namedprocess_namegroup_cpu_seconds_total",
        "namedprocess_namegroup_memory_bytes",
        "namedprocess_namegroup_num_procs",
    ]
    assert wait_for(lambda: scraped_names(host, pool) == kept, timeout=60), scraped_names(host, pool)
    served = metrics(host, 9256)
    assert f'namedprocess_namegroup_states{{groupname="php-fpm:{SHOP_POOL}"' in served
    memory = f'{{job="process",groupname="php-fpm:{SHOP_POOL}",__name__="namedprocess_namegroup_memory_bytes"}}'
    assert scraped_names(host, memory, label="memtype") == ["resident"]
    assert f'namedprocess_namegroup_memory_bytes{{groupname="php-fpm:{SHOP_POOL}",memtype="virtual"}}' in served
    assert scraped_names(host, '{job="mysqld",__name__=~"mysql_global_variables_.+"}') == []
    assert "mysql_global_variables_max_connections" in metrics(host, 9104)
    assert "mysql_up" in scraped_names(host, '{job="mysqld"}')


def test_prometheus_keeps_the_go_runtime_series_of_its_own_job_only(host):
    """monitoring_server_runtime_metrics [prometheus]: an exporter's go_* and promhttp_* are served, not kept."""
    assert wait_for(lambda: "go_goroutines" in scraped_names(host, '{job="prometheus"}')), "no go_* of Prometheus"
    for job in ("node", "mysqld", "alertmanager"):
        assert "up" in scraped_names(host, f'{{__name__="up",job="{job}"}}'), job
        assert scraped_names(host, f'{{job="{job}",__name__=~"go_.+|promhttp_.+"}}') == [], job
    assert "go_goroutines" in metrics(host, 9100)
    assert "process_resident_memory_bytes" in scraped_names(host, '{job="node"}')
