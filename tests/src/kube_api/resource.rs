//! The resources the fake API server serves, and the parsing of a request
//! path and method into the resource, namespace, name, subresource and
//! verb that the real server's request-info resolver derives (the values
//! RBAC decides on).

/// One API resource: its group, version, plural (the path segment) and
/// kind, as the real server's discovery documents describe it.
#[derive(Debug, PartialEq, Eq)]
pub struct ApiResource {
    /// The API group (`""` for the core group served under `/api`).
    pub group: &'static str,
    /// The group's version.
    pub version: &'static str,
    /// The plural name: the path segment and RBAC's resource name.
    pub plural: &'static str,
    /// The kind of one object.
    pub kind: &'static str,
}

/// Every resource served: the four kinds discovery watches, and Events in
/// both API groups (kube-rs's `Recorder` writes `events.k8s.io/v1`).
/// All are namespaced.
pub const RESOURCES: [ApiResource; 6] = [
    ApiResource {
        group: "networking.k8s.io",
        version: "v1",
        plural: "ingresses",
        kind: "Ingress",
    },
    ApiResource {
        group: "",
        version: "v1",
        plural: "services",
        kind: "Service",
    },
    ApiResource {
        group: "discovery.k8s.io",
        version: "v1",
        plural: "endpointslices",
        kind: "EndpointSlice",
    },
    ApiResource {
        group: "",
        version: "v1",
        plural: "secrets",
        kind: "Secret",
    },
    ApiResource {
        group: "",
        version: "v1",
        plural: "events",
        kind: "Event",
    },
    ApiResource {
        group: "events.k8s.io",
        version: "v1",
        plural: "events",
        kind: "Event",
    },
];

// === impl ApiResource ===

impl ApiResource {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The kind of a list of these objects (`IngressList`).
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// `plural.group` (`ingresses.networking.k8s.io`, `services`), as the
    /// real server names a resource in its error messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The resource of an object's `apiVersion` and `kind`.
    pub fn of_object(api_version: &str, kind: &str) -> Option<usize> {
        RESOURCES
            .iter()
            .position(|r| r.api_version() == api_version && r.kind == kind)
    }
}

/// What a request addresses, as parsed from its path and method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The index into [`RESOURCES`].
    pub resource: usize,
    /// The namespace of a namespaced path; `None` for the cluster-wide
    /// collection.
    pub namespace: Option<String>,
    /// The object's name, for a path below the collection.
    pub name: Option<String>,
    /// The subresource (`status`).
    pub subresource: Option<String>,
    /// The RBAC verb: get, list, watch, create, update, patch, delete,
    /// deletecollection.
    pub verb: &'static str,
}

// === impl Target ===

impl Target {
    /// The served resource.
    pub fn api(&self) -> &'static ApiResource {
        &RESOURCES[self.resource]
    }

    /// Parses `path` (without the query) of a request with `method`;
    /// `watch` is whether the query asks for a watch. `None` for a path
    /// the fake does not serve (the real server answers 404 there too,
    /// or serves something the fake leaves out).
    pub fn parse(method: &http::Method, path: &str, watch: bool) -> Option<Target> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, version, rest) = match segments.as_slice() {
            ["api", version, rest @ ..] => ("", *version, rest),
            ["apis", group, version, rest @ ..] => (*group, *version, rest),
            _ => return None,
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
            _ => (None, rest),
        };
        let (plural, name, subresource) = match rest {
            [plural] => (*plural, None, None),
            [plural, name] if namespace.is_some() => (*plural, Some(*name), None),
            [plural, name, sub] if namespace.is_some() => (*plural, Some(*name), Some(*sub)),
            _ => return None,
        };
        let resource = RESOURCES
            .iter()
            .position(|r| r.group == group && r.version == version && r.plural == plural)?;
        let verb = match (method.as_str(), name.is_some()) {
            ("GET" | "HEAD", _) if watch => "watch",
            ("GET" | "HEAD", false) => "list",
            ("GET" | "HEAD", true) => "get",
            ("POST", false) => "create",
            ("PUT", true) => "update",
            ("PATCH", true) => "patch",
            ("DELETE", true) => "delete",
            ("DELETE", false) => "deletecollection",
            _ => return None,
        };
        Some(Target {
            resource,
            namespace,
            name: name.map(str::to_owned),
            subresource: subresource.map(str::to_owned),
            verb,
        })
    }
}

#[cfg(test)]
#[path = "resource_tests.rs"]
mod tests;
