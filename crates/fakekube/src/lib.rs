//! A FAKE Kubernetes API server, in process, for tests. See README.md for what it speaks and
//! what it does not pretend to do.

mod http;
pub mod registry;
pub mod selector;
pub mod ssa;
pub mod store;

use serde_json::Value;
use std::sync::{Arc, Mutex};
pub use store::SeenRequest;

/// A running fake API server on `127.0.0.1:<random port>`. Stops when dropped.
pub struct FakeKube {
    url: String,
    store: Arc<Mutex<store::Store>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeKube {
    /// Starts the server on its own thread and runtime, so it serves whatever the caller does
    /// (blocking on a child process included).
    pub fn start() -> FakeKube {
        let mut initial = store::Store::new();
        // What every cluster has.
        let ns = initial
            .registry
            .by_kind("v1", "Namespace")
            .cloned()
            .expect("built-in kind");
        for name in ["default", "kube-system", "kube-public"] {
            let obj = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            let opts = store::WriteOpts {
                manager: Some("kube-apiserver".into()),
                ..Default::default()
            };
            initial
                .create(&ns, None, obj, &opts)
                .expect("new namespace");
        }
        let store = Arc::new(Mutex::new(initial));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shared = store.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("fake kube runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let app = axum::Router::new().fallback(move |method, uri, headers, body| {
                    http::handle(shared.clone(), method, uri, headers, body)
                });
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        FakeKube {
            url,
            store,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A kubeconfig (context `fake`, namespace `default`) pointing at this server.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n\
             current-context: fake\nusers:\n- name: fake\n  user:\n    token: fake-token\n",
            self.url
        )
    }

    fn with<T>(&self, f: impl FnOnce(&mut store::Store) -> T) -> T {
        f(&mut self.store.lock().expect("fake store lock"))
    }

    fn kind(s: &store::Store, api_version: &str, kind: &str) -> registry::Kind {
        s.registry
            .by_kind(api_version, kind)
            .cloned()
            .unwrap_or_else(|| panic!("the fake API server does not know {api_version} {kind}"))
    }

    /// Creates or replaces an object as the test (manager `test`), e.g. a Pod with a status.
    pub fn insert(&self, obj: Value) -> Value {
        self.with(|s| {
            let kind = Self::kind(
                s,
                obj["apiVersion"].as_str().unwrap_or(""),
                obj["kind"].as_str().unwrap_or(""),
            );
            let ns = obj["metadata"]["namespace"].as_str().map(String::from);
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let opts = store::WriteOpts {
                manager: Some("test".into()),
                ..Default::default()
            };
            let status = obj.get("status").cloned();
            let created = match s.get(&kind, ns.as_deref(), &name) {
                Ok(_) => s.update(
                    &kind,
                    ns.as_deref(),
                    &name,
                    false,
                    |o| *o = obj.clone(),
                    &opts,
                ),
                Err(_) => s.create(&kind, ns.as_deref(), obj.clone(), &opts),
            }
            .unwrap_or_else(|e| panic!("fake insert: {}", e.message));
            match status {
                Some(st) => s
                    .update(
                        &kind,
                        ns.as_deref(),
                        &name,
                        true,
                        |o| o["status"] = st,
                        &opts,
                    )
                    .unwrap_or_else(|e| panic!("fake insert status: {}", e.message)),
                None => created,
            }
        })
    }

    /// The object as the API returns it, or None.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.with(|s| {
            let k = Self::kind(s, api_version, kind);
            s.get(&k, namespace, name).ok()
        })
    }

    /// Every object of a kind (all namespaces).
    pub fn list_kind(&self, api_version: &str, kind: &str) -> Vec<Value> {
        self.with(|s| {
            let k = Self::kind(s, api_version, kind);
            s.list(&k, None, &selector::Selector::default())["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
    }

    /// Sets an object's status, as a controller would.
    pub fn set_status(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        status: Value,
    ) {
        self.with(|s| {
            let k = Self::kind(s, api_version, kind);
            let opts = store::WriteOpts {
                manager: Some("test".into()),
                ..Default::default()
            };
            s.update(&k, namespace, name, true, |o| o["status"] = status, &opts)
                .unwrap_or_else(|e| panic!("fake set_status: {}", e.message));
        })
    }

    /// The log of a pod (all containers), served by `GET .../pods/<name>/log`.
    pub fn set_log(&self, namespace: &str, pod: &str, text: &str) {
        self.with(|s| s.logs.insert((namespace.into(), pod.into()), text.into()));
    }

    /// Whether Deployments and StatefulSets written through the API report themselves rolled out
    /// (default: on).
    pub fn set_auto_rollout(&self, on: bool) {
        self.with(|s| s.auto_rollout = on);
    }

    /// Every request seen so far, in order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.with(|s| s.requests.clone())
    }

    pub fn clear_requests(&self) {
        self.with(|s| s.requests.clear());
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
