//! The deployment artifacts, checked by the programs that consume them:
//! the Kubernetes manifests against the Kubernetes schemas
//! (kubernetes-validate, offline), the ConfigMap's config by `wingress
//! check`, the DaemonSet's pod started the way a node would start it, and
//! the launchd plist by python's plistlib.
//!
//! The pod run: a network namespace with the node's address, a read-only
//! root file system (a tmpfs with the host's /usr bound read-only, the
//! binary at the image's path), the ConfigMap mounted at its mountPath, an
//! empty hostPath directory as kubelet creates it (root, 0755); then the
//! init container's own script as root with CAP_CHOWN only, then the
//! container's args as uid 65532 with no capabilities and no_new_privs.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use wingress_lab::process::run_command;
use wingress_lab::{lab_or_skip, tools_or_skip, Lab, Netns, Process};

const K8S: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../packaging/kubernetes");
const DOCKERFILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../packaging/container/Dockerfile"
);
const PLIST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../packaging/launchd/dev.wingress.wingress.plist"
);
/// The node of the pod run: UDP port 41600 + 37, tunnel address x.x.x.37.
const NODE_IP: &str = "10.99.7.37";
const NODE_PORT: u16 = 41637;
const READY: Duration = Duration::from_secs(60);

// === the manifests ===

/// Every document of a YAML file, as JSON (PyYAML does the parsing).
fn yaml_docs(path: &Path) -> Result<Vec<Value>> {
    let out = run_command(
        Command::new("python3")
            .args([
                "-c",
                "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))",
            ])
            .arg(path),
        Duration::from_secs(30),
    )?;
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn manifest(kind: &str) -> Result<Value> {
    let kustomization = yaml_docs(&Path::new(K8S).join("kustomization.yaml"))?;
    for file in kustomization[0]["resources"]
        .as_array()
        .context("resources")?
    {
        for doc in yaml_docs(&Path::new(K8S).join(file.as_str().context("a file name")?))? {
            if doc["kind"] == kind {
                return Ok(doc);
            }
        }
    }
    bail!("no {kind} among the kustomization's resources")
}

#[test]
fn manifests_match_the_kubernetes_schemas() -> Result<()> {
    if !tools_or_skip(&["python3", "kubernetes-validate"]) {
        return Ok(());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(K8S)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    files.retain(|p| p.extension().is_some_and(|x| x == "yaml"));
    files.sort();
    let kustomization = Path::new(K8S).join("kustomization.yaml");
    let manifests: Vec<&PathBuf> = files.iter().filter(|p| **p != kustomization).collect();
    ensure!(manifests.len() >= 5, "manifests: {manifests:?}");
    // The oldest Kubernetes still in wide use and the newest schemas shipped.
    for version in ["1.29.0", "1.37.0"] {
        let out = run_command(
            Command::new("kubernetes-validate")
                .args(["--strict", "--quiet", "-k", version])
                .args(&manifests),
            Duration::from_secs(120),
        )
        .with_context(|| format!("kubernetes-validate -k {version}"))?;
        let said = String::from_utf8_lossy(&out.stdout);
        ensure!(
            said.trim().is_empty(),
            "kubernetes-validate {version}:\n{said}"
        );
    }
    // Every file the kustomization names exists; every manifest but the
    // backend-side NetworkPolicy example is in it.
    let k = &yaml_docs(&kustomization)?[0];
    ensure!(
        k["kind"] == "Kustomization" && k["namespace"] == "wingress",
        "{k}"
    );
    let listed: Vec<&str> = k["resources"]
        .as_array()
        .context("resources")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for name in &listed {
        ensure!(
            Path::new(K8S).join(name).is_file(),
            "kustomization lists missing {name}"
        );
    }
    for m in &manifests {
        let name = m.file_name().unwrap().to_string_lossy();
        ensure!(
            listed.contains(&name.as_ref()) || name == "networkpolicy.yaml",
            "{name} is not in the kustomization"
        );
    }
    Ok(())
}

/// The discovery component (packaging/kubernetes/discovery): its
/// manifests pass the schemas strictly, it is a kustomize `Component`
/// listing them, its ClusterRole is what discovery needs (the fake API
/// server's tests check every request against it), and its patches
/// replace fields that exist in the base's ServiceAccount and DaemonSet
/// (a JSON 6902 `replace` of a missing path fails `kubectl apply -k`).
#[test]
fn discovery_component_matches_the_schemas_and_the_base() -> Result<()> {
    if !tools_or_skip(&["python3", "kubernetes-validate"]) {
        return Ok(());
    }
    let dir = Path::new(K8S).join("discovery");
    let manifests = [dir.join("rbac.yaml"), dir.join("ingressclass.yaml")];
    for version in ["1.29.0", "1.37.0"] {
        let out = run_command(
            Command::new("kubernetes-validate")
                .args(["--strict", "--quiet", "-k", version])
                .args(&manifests),
            Duration::from_secs(120),
        )
        .with_context(|| format!("kubernetes-validate -k {version}"))?;
        let said = String::from_utf8_lossy(&out.stdout);
        ensure!(
            said.trim().is_empty(),
            "kubernetes-validate {version}:\n{said}"
        );
    }
    let k = &yaml_docs(&dir.join("kustomization.yaml"))?[0];
    ensure!(
        k["kind"] == "Component" && k["apiVersion"] == "kustomize.config.k8s.io/v1alpha1",
        "{k}"
    );
    ensure!(
        k["resources"] == serde_json::json!(["rbac.yaml", "ingressclass.yaml"]),
        "{k}"
    );
    let mut kinds = Vec::new();
    for m in &manifests {
        for doc in yaml_docs(m)? {
            kinds.push(doc["kind"].as_str().unwrap_or_default().to_owned());
            if doc["kind"] == "IngressClass" {
                ensure!(doc["metadata"]["name"] == "wingress", "{doc}");
                ensure!(
                    doc["spec"]["controller"] == "wingress.dev/ingress-controller",
                    "{doc}"
                );
            }
            if doc["kind"] == "ClusterRoleBinding" {
                ensure!(
                    doc["subjects"][0]["name"] == "wingress"
                        && doc["roleRef"]["name"] == "wingress",
                    "{doc}"
                );
            }
        }
    }
    ensure!(
        kinds == ["ClusterRole", "ClusterRoleBinding", "IngressClass"],
        "{kinds:?}"
    );
    let role = wingress_lab::kube_api::ClusterRole::from_dir(&dir)?;
    for (verb, group, resource, sub) in [
        ("watch", "networking.k8s.io", "ingresses", None),
        ("list", "", "services", None),
        ("get", "discovery.k8s.io", "endpointslices", None),
        ("watch", "", "secrets", None),
        ("patch", "networking.k8s.io", "ingresses", Some("status")),
        ("create", "events.k8s.io", "events", None),
        ("patch", "", "events", None),
    ] {
        ensure!(
            role.allows(verb, group, resource, sub, None),
            "{verb} {group} {resource}"
        );
    }
    for (verb, group, resource, sub) in [
        ("patch", "networking.k8s.io", "ingresses", None),
        ("create", "", "secrets", None),
        ("list", "", "configmaps", None),
        ("update", "networking.k8s.io", "ingresses", Some("status")),
    ] {
        ensure!(
            !role.allows(verb, group, resource, sub, None),
            "{verb} {group} {resource}"
        );
    }
    // Each patch replaces a field the base's object has, with `true`.
    for p in k["patches"].as_array().context("patches")? {
        let target = manifest(p["target"]["kind"].as_str().context("target kind")?)?;
        ensure!(target["metadata"]["name"] == p["target"]["name"], "{p}");
        let ops: Value = serde_saphyr::from_str(p["patch"].as_str().context("patch")?)?;
        for op in ops.as_array().context("ops")? {
            ensure!(op["op"] == "replace" && op["value"] == true, "{op}");
            let path = op["path"].as_str().context("path")?;
            ensure!(
                target.pointer(path).is_some_and(Value::is_boolean),
                "{path} is not in the base's {}",
                p["target"]["kind"]
            );
        }
    }
    Ok(())
}

#[test]
fn daemonset_runs_unprivileged_on_the_node_network() -> Result<()> {
    if !tools_or_skip(&["python3"]) {
        return Ok(());
    }
    let ds = manifest("DaemonSet")?;
    let pod = &ds["spec"]["template"]["spec"];
    ensure!(pod["hostNetwork"] == true, "hostNetwork");
    ensure!(pod["dnsPolicy"] == "ClusterFirstWithHostNet", "dnsPolicy");
    ensure!(pod["automountServiceAccountToken"] == false, "no API token");
    ensure!(
        pod["securityContext"]["runAsNonRoot"] == true,
        "pod runAsNonRoot"
    );
    ensure!(
        pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault",
        "seccomp"
    );
    let c = &pod["containers"][0];
    let sc = &c["securityContext"];
    ensure!(sc["runAsNonRoot"] == true && sc["runAsUser"] != 0, "{sc}");
    ensure!(sc["privileged"] == false, "{sc}");
    ensure!(sc["allowPrivilegeEscalation"] == false, "{sc}");
    ensure!(sc["readOnlyRootFilesystem"] == true, "{sc}");
    ensure!(
        sc["capabilities"]["drop"] == serde_json::json!(["ALL"]),
        "{sc}"
    );
    ensure!(
        sc["capabilities"].get("add").is_none(),
        "no capability added: {sc}"
    );
    let env = c["env"].as_array().context("env")?;
    let node_ip = env
        .iter()
        .find(|e| e["name"] == "WINGRESS_NODE_IP")
        .context("WINGRESS_NODE_IP")?;
    ensure!(
        node_ip["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP",
        "{node_ip}"
    );
    for k in ["requests", "limits"] {
        for r in ["cpu", "memory"] {
            ensure!(c["resources"][k][r].is_string(), "resources.{k}.{r}");
        }
    }
    // The probes reach the admin API where the ConfigMap puts it.
    let admin = admin_listen(&configmap_config()?).context("[admin] listen in the ConfigMap")?;
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &c[probe]["httpGet"];
        ensure!(get["path"] == path, "{probe}: {get}");
        ensure!(
            format!("{}:{}", get["host"].as_str().unwrap_or(""), get["port"]) == admin,
            "{probe} {get} does not reach the admin API at {admin}"
        );
    }
    // The only root in the pod: the init container, with CHOWN alone.
    for init in pod["initContainers"].as_array().into_iter().flatten() {
        let sc = &init["securityContext"];
        ensure!(
            sc["allowPrivilegeEscalation"] == false && sc["privileged"] == false,
            "{sc}"
        );
        ensure!(
            sc["capabilities"]["drop"] == serde_json::json!(["ALL"]),
            "{sc}"
        );
        ensure!(
            sc["capabilities"]["add"] == serde_json::json!(["CHOWN"]),
            "{sc}"
        );
    }
    Ok(())
}

/// The ConfigMap's `wingress.toml`.
fn configmap_config() -> Result<String> {
    let cm = manifest("ConfigMap")?;
    Ok(cm["data"]["wingress.toml"]
        .as_str()
        .context("data.wingress.toml")?
        .to_string())
}

/// `[admin] listen` of a config, as `host:port`.
fn admin_listen(config: &str) -> Option<String> {
    let start = config.find("[admin]")?;
    config[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "listen").then(|| {
                v.split('#')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .trim_matches('"')
                    .to_string()
            })
        })
}

/// Whether this build's config knows `[admin]` (issue 4). Until it does,
/// the ConfigMap's config is checked and run without that table, and the
/// probes are not exercised; the other checks are the same.
fn admin_supported(bin: &Path, dir: &Path) -> Result<bool> {
    let probe = dir.join("admin-probe.toml");
    std::fs::write(
        &probe,
        "[wireguard]\naddress = \"100.64.0.1/24\"\n[admin]\nlisten = \"127.0.0.1:9180\"\n",
    )?;
    let out = Command::new(bin)
        .arg("check")
        .arg("--config")
        .arg(&probe)
        .output()?;
    let supported = out.status.success();
    if !supported {
        eprintln!(
            "NOTE: this wingress has no [admin] section yet ({}); checking the ConfigMap's config without it",
            String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("")
        );
    }
    Ok(supported)
}

fn without_admin(config: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in config.lines() {
        let t = line.trim_start();
        if t.starts_with('[') {
            skipping = t.starts_with("[admin]");
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The config as this build can run it (see [`admin_supported`]).
fn runnable_config(bin: &Path, dir: &Path) -> Result<(String, bool)> {
    let config = configmap_config()?;
    let admin = admin_supported(bin, dir)?;
    Ok(if admin {
        (config, true)
    } else {
        (without_admin(&config), false)
    })
}

#[test]
fn configmap_config_passes_check() -> Result<()> {
    if !tools_or_skip(&["python3"]) {
        return Ok(());
    }
    let lab = Lab::new()?;
    let bin = wingress_lab::wingress_bin();
    let (config, _) = runnable_config(&bin, lab.dir())?;
    let path = lab.write_file("wingress.toml", &config)?;
    // As the pod reads it: the node address comes from the downward API.
    run_command(
        Command::new(&bin)
            .args(["check", "--config"])
            .arg(&path)
            .env("WINGRESS_NODE_IP", NODE_IP),
        Duration::from_secs(30),
    )?;
    // Without it the {octet} address cannot be resolved, and check says so.
    let out = Command::new(&bin)
        .args(["check", "--config"])
        .arg(&path)
        .env_remove("WINGRESS_NODE_IP")
        .output()?;
    ensure!(out.status.code() == Some(64), "{out:?}");
    ensure!(String::from_utf8_lossy(&out.stderr).contains("WINGRESS_NODE_IP"));
    Ok(())
}

// === the pod, run as on a node ===

/// The image's ENTRYPOINT (JSON form) from the Dockerfile.
fn entrypoint() -> Result<Vec<String>> {
    let text = std::fs::read_to_string(DOCKERFILE)?;
    let line = text
        .lines()
        .rfind(|l| l.starts_with("ENTRYPOINT"))
        .context("ENTRYPOINT")?;
    Ok(serde_json::from_str(
        line.trim_start_matches("ENTRYPOINT").trim(),
    )?)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A script that builds the pod's file system at `root` (to run in a
/// private mount namespace): a tmpfs root with the host's /usr bound
/// read-only, the binary at the image's path, the volumes at their
/// mountPaths, then the root remounted read-only.
fn pod_script(
    root: &Path,
    bin: &Path,
    mounts: &[(PathBuf, String, bool)],
    image_bin: &str,
) -> String {
    let r = shell_quote(&root.display().to_string());
    let mut s = format!(
        "set -eu\nR={r}\nmount -t tmpfs -o mode=0755 tmpfs \"$R\"\n\
         mkdir -p \"$R/usr\" \"$R/proc\" \"$R/dev\" \"$R/tmp\" \"$R/etc\"\n\
         for d in bin sbin lib lib64; do [ -L /$d ] && ln -s \"$(readlink /$d)\" \"$R/$d\"; done\n\
         for d in /usr/*; do case $d in /usr/local) ;; *) mkdir -p \"$R$d\"; mount --bind -o ro \"$d\" \"$R$d\"; mount -o remount,bind,ro \"$R$d\";; esac; done\n\
         for f in null zero urandom random; do touch \"$R/dev/$f\"; mount --bind /dev/$f \"$R/dev/$f\"; done\n\
         mount -t proc proc \"$R/proc\"\n\
         install -D -m 0755 {bin} \"$R{image_bin}\"\n",
        bin = shell_quote(&bin.display().to_string()),
    );
    for (src, at, ro) in mounts {
        let at_q = shell_quote(at);
        s += &format!(
            "mkdir -p \"$R\"{at_q}\nmount --bind {} \"$R\"{at_q}\n",
            shell_quote(&src.display().to_string())
        );
        if *ro {
            s += &format!("mount -o remount,bind,ro \"$R\"{at_q}\n");
        }
    }
    // readOnlyRootFilesystem: the root itself, after everything is in place.
    s += "mount -o remount,ro \"$R\"\n";
    s
}

#[test]
fn daemonset_pod_creates_its_key_and_listens_on_its_port() -> Result<()> {
    let Some(lab) = lab_or_skip(&["python3", "setpriv", "unshare", "chroot", "curl"]) else {
        return Ok(());
    };
    let result = pod_run(&lab);
    if result.is_err() {
        lab.dump_logs();
    }
    result
}

fn pod_run(lab: &Lab) -> Result<()> {
    let bin = wingress_lab::wingress_bin();
    let ds = manifest("DaemonSet")?;
    let pod = &ds["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let uid = pod["securityContext"]["runAsUser"]
        .as_u64()
        .context("runAsUser")?;
    let gid = pod["securityContext"]["runAsGroup"]
        .as_u64()
        .context("runAsGroup")?;
    let (config, admin) = runnable_config(&bin, lab.dir())?;

    // Volumes: the ConfigMap as files; the hostPath as kubelet creates it.
    let config_dir = lab.dir().join("configmap");
    std::fs::create_dir(&config_dir)?;
    std::fs::write(config_dir.join("wingress.toml"), &config)?;
    std::fs::set_permissions(&config_dir, std::fs::Permissions::from_mode(0o755))?;
    std::fs::set_permissions(
        config_dir.join("wingress.toml"),
        std::fs::Permissions::from_mode(0o644),
    )?;
    let volumes = pod["volumes"].as_array().context("volumes")?;
    let host_path = volumes
        .iter()
        .find(|v| v["hostPath"].is_object())
        .context("a hostPath volume")?;
    ensure!(
        host_path["hostPath"]["type"] == "DirectoryOrCreate",
        "{host_path}"
    );
    let state = lab.dir().join("node-state");
    std::fs::create_dir(&state)?;
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755))?;
    let mount_of = |container: &Value, volume: &str| -> Option<(String, bool)> {
        container["volumeMounts"]
            .as_array()?
            .iter()
            .find(|m| m["name"] == volume)
            .map(|m| {
                (
                    m["mountPath"].as_str().unwrap_or("").to_string(),
                    m["readOnly"] == true,
                )
            })
    };
    let mut mounts = Vec::new();
    for v in volumes {
        let name = v["name"].as_str().context("volume name")?;
        let Some((at, ro)) = mount_of(c, name) else {
            continue;
        };
        let src = if v["configMap"].is_object() {
            config_dir.clone()
        } else {
            state.clone()
        };
        mounts.push((src, at, ro));
    }

    // The node's network: its address on a link to the rest of the LAN.
    let (lan, ns) = (lab.netns()?, lab.netns()?);
    wingress_lab::veth(&lan, "10.99.7.1/24", &ns, &format!("{NODE_IP}/24"))?;

    let image_bin = entrypoint()?.first().cloned().context("ENTRYPOINT")?;
    let mut argv = entrypoint()?;
    argv.extend(strings(&c["args"]));
    let mut env = vec![(
        "PATH".to_string(),
        "/usr/local/bin:/usr/bin:/bin".to_string(),
    )];
    for e in c["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().context("env name")?.to_string();
        let value = match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            Some("status.hostIP") => NODE_IP.to_string(),
            Some(other) => bail!("env {name}: fieldRef {other} is not emulated"),
            None => e["value"].as_str().unwrap_or("").to_string(),
        };
        env.push((name, value));
    }
    let env_args: Vec<String> = env
        .iter()
        .map(|(k, v)| shell_quote(&format!("{k}={v}")))
        .collect();

    let start = |n: u32| -> Result<Process> {
        let root = lab.dir().join(format!("rootfs-{n}"));
        std::fs::create_dir(&root)?;
        let mut script = pod_script(&root, &bin, &mounts, &image_bin);
        // Init containers: as root with only their added capabilities.
        for init in pod["initContainers"].as_array().into_iter().flatten() {
            let caps: Vec<String> = strings(&init["securityContext"]["capabilities"]["add"])
                .iter()
                .map(|c| format!("+{}", c.to_lowercase()))
                .collect();
            let mut cmd = strings(&init["command"]);
            cmd.extend(strings(&init["args"]));
            let cmd: Vec<String> = cmd.iter().map(|a| shell_quote(a)).collect();
            script += &format!(
                "chroot \"$R\" /usr/bin/env -i PATH=/usr/bin:/bin /usr/bin/setpriv --no-new-privs \
                 --inh-caps=-all --bounding-set=-all,{} -- {}\n",
                caps.join(","),
                cmd.join(" ")
            );
        }
        let argv: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
        script += &format!(
            "exec chroot \"$R\" /usr/bin/env -i {} /usr/bin/setpriv --reuid={uid} --regid={gid} --clear-groups \
             --no-new-privs --inh-caps=-all --bounding-set=-all -- {}\n",
            env_args.join(" "),
            argv.join(" ")
        );
        let mut p = ns.spawn(
            &format!("pod-{n}"),
            "unshare",
            &["--mount", "--propagation", "private", "sh", "-c", &script],
        )?;
        ns.wait_listening_by(&mut p, "udp", NODE_PORT, READY)?;
        Ok(p)
    };

    let mut first = start(1)?;
    let key = state.join("private.key");
    let meta = std::fs::metadata(&key).context("the pod created no key in the hostPath")?;
    ensure!(
        meta.permissions().mode() & 0o777 == 0o600,
        "key mode {:o}",
        meta.permissions().mode()
    );
    ensure!(u64::from(meta.uid()) == uid, "key owned by {}", meta.uid());
    let dir = std::fs::metadata(&state)?;
    ensure!(
        dir.permissions().mode() & 0o777 == 0o700 && u64::from(dir.uid()) == uid,
        "state dir {:o} uid {}",
        dir.permissions().mode(),
        dir.uid()
    );
    let public = node_line(&bin, &ns, &state)?;
    eprintln!("pod on {NODE_IP}: UDP {NODE_PORT}, {public}");
    ensure!(
        public.contains(&format!("endpoint={NODE_IP}:{NODE_PORT}")),
        "{public}"
    );
    ensure!(public.contains("address=100.64.0.37"), "{public}");
    if admin {
        probe(&ns, &config)?;
    }
    first.ensure_running()?;
    let status = first.stop();
    ensure!(
        status.is_some_and(|s| s.success()),
        "pod exit {status:?}:\n{}",
        first.log()
    );

    // A restarted pod keeps the node's key.
    let mut second = start(2)?;
    ensure!(
        node_line(&bin, &ns, &state)? == public,
        "the key changed across a restart"
    );
    second.ensure_running()?;
    Ok(())
}

/// `wingress cluster node` for the pod's node, as `kubectl exec` would
/// run it, except that it runs on the host with the hostPath directory's
/// real location in place of the mountPath.
fn node_line(bin: &Path, ns: &Netns, state: &Path) -> Result<String> {
    let dir = state.parent().context("lab dir")?;
    let config = std::fs::read_to_string(dir.join("configmap/wingress.toml"))?;
    let cfg = dir.join("node-line.toml");
    std::fs::write(
        &cfg,
        config.replace(
            "\"/var/lib/wingress\"",
            &format!("{:?}", state.display().to_string()),
        ),
    )?;
    let out = run_command(
        ns.command(bin)
            .args(["cluster", "node", "--name", "node-37", "--config"])
            .arg(&cfg)
            .env("WINGRESS_NODE_IP", NODE_IP),
        Duration::from_secs(30),
    )?;
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

/// kubelet's probes, from the node's network namespace.
fn probe(ns: &Netns, config: &str) -> Result<()> {
    let admin = admin_listen(config).context("[admin] listen")?;
    for path in ["/healthz", "/readyz"] {
        let url = format!("http://{admin}{path}");
        wingress_lab::eventually(READY, || {
            ns.exec("curl", &["-sf", "--max-time", "5", &url]).map(drop)
        })
        .with_context(|| format!("probe {url}"))?;
    }
    Ok(())
}

// === launchd ===

#[test]
fn launchd_plist_parses_with_the_keys_launchd_needs() -> Result<()> {
    if !tools_or_skip(&["python3"]) {
        return Ok(());
    }
    let out = run_command(
        Command::new("python3")
            .args([
                "-c",
                "import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))",
            ])
            .arg(PLIST),
        Duration::from_secs(30),
    )?;
    let p: Value = serde_json::from_slice(&out.stdout)?;
    ensure!(p["Label"] == "dev.wingress.wingress", "{p}");
    ensure!(p["RunAtLoad"] == true && p["KeepAlive"] == true, "{p}");
    let args = strings(&p["ProgramArguments"]);
    ensure!(
        args.len() == 4
            && args[0].ends_with("/wingress")
            && args[1] == "run"
            && args[2] == "--config",
        "{args:?}"
    );
    ensure!(p["UserName"].as_str().is_some_and(|u| u != "root"), "{p}");
    for key in ["StandardOutPath", "StandardErrorPath"] {
        ensure!(
            p[key].as_str().is_some_and(|s| s.starts_with('/')),
            "{key}: {p}"
        );
    }
    ensure!(
        p["EnvironmentVariables"]["STATE_DIRECTORY"].is_string(),
        "{p}"
    );
    Ok(())
}
