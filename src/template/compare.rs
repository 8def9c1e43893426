//! Where two canonical trees differ, as JSON Pointer paths (RFC 6901).

use super::Node;

/// Every path at which `left` and `right` differ, by `Node`'s semantic equality: a key present
/// on one side only, a list index beyond the shorter list, or differing scalars or kinds.
/// Equal trees give an empty list; differing roots give `[""]`.
pub fn differing_paths(left: &Node, right: &Node) -> Vec<String> {
    let mut paths = Vec::new();
    collect(left, right, &mut String::new(), &mut paths);
    paths
}

fn collect(left: &Node, right: &Node, path: &mut String, out: &mut Vec<String>) {
    match (left, right) {
        (Node::Map(a), Node::Map(b)) => {
            for (key, value) in a {
                with_segment(path, key, |path| match b.get(key) {
                    Some(other) => collect(value, other, path, out),
                    None => out.push(path.clone()),
                });
            }
            for key in b.keys().filter(|key| !a.contains_key(*key)) {
                with_segment(path, key, |path| out.push(path.clone()));
            }
        }
        (Node::List(a), Node::List(b)) => {
            for index in 0..a.len().max(b.len()) {
                with_segment(path, &index.to_string(), |path| {
                    match (a.get(index), b.get(index)) {
                        (Some(x), Some(y)) => collect(x, y, path, out),
                        _ => out.push(path.clone()),
                    }
                });
            }
        }
        _ if left != right => out.push(path.clone()),
        _ => {}
    }
}

fn with_segment(path: &mut String, segment: &str, visit: impl FnOnce(&mut String)) {
    let length = path.len();
    path.push('/');
    path.push_str(&segment.replace('~', "~0").replace('/', "~1"));
    visit(path);
    path.truncate(length);
}
