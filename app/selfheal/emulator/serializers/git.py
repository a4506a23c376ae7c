"""Git data: refs, commits (git and REST shapes), push commits, trees."""

from __future__ import annotations

import pygit2

from .. import gitdata
from ..state import Repo, iso
from .base import JSON, node_id, signature_json, unverified
from .issues import IssuesRender


class GitRender(IssuesRender):
    def ref(self, r: Repo, name: str, sha: str) -> JSON:
        return {
            "ref": name,
            "node_id": node_id("Ref", abs(hash((r.id, name))) % 10**9),
            "url": f"{self.base}/repos/{r.full_name}/git/{name}",
            "object": {
                "type": "commit",
                "sha": sha,
                "url": f"{self.base}/repos/{r.full_name}/git/commits/{sha}",
            },
        }

    def git_commit(self, r: Repo, c: pygit2.Commit) -> JSON:
        api = f"{self.base}/repos/{r.full_name}/git/commits/{c.id}"
        return {
            "sha": str(c.id),
            "node_id": node_id("Commit", int(str(c.id)[:8], 16)),
            "url": api,
            "html_url": f"{self.base}/{r.full_name}/commit/{c.id}",
            "author": signature_json(c.author),
            "committer": signature_json(c.committer),
            "message": c.message,
            "tree": {
                "sha": str(c.tree_id),
                "url": f"{self.base}/repos/{r.full_name}/git/trees/{c.tree_id}",
            },
            "parents": [
                {
                    "sha": str(p),
                    "url": f"{self.base}/repos/{r.full_name}/git/commits/{p}",
                    "html_url": f"{self.base}/{r.full_name}/commit/{p}",
                }
                for p in c.parent_ids
            ],
            "verification": unverified(),
        }

    def commit(self, r: Repo, c: pygit2.Commit, files: list[JSON] | None = None) -> JSON:
        """The REST ``commit`` shape (compare, pulls/commits, repos/commits)."""
        sha = str(c.id)
        git_part = self.git_commit(r, c)
        inner = {
            "url": git_part["url"],
            "author": git_part["author"],
            "committer": git_part["committer"],
            "message": c.message,
            "tree": git_part["tree"],
            "comment_count": 0,
            "verification": unverified(),
        }
        data: JSON = {
            "url": f"{self.base}/repos/{r.full_name}/commits/{sha}",
            "sha": sha,
            "node_id": git_part["node_id"],
            "html_url": git_part["html_url"],
            "comments_url": f"{self.base}/repos/{r.full_name}/commits/{sha}/comments",
            "commit": inner,
            "author": self.user(self.user_by_email(c.author.email)),
            "committer": self.user(self.user_by_email(c.committer.email)),
            "parents": git_part["parents"],
        }
        if files is not None:
            data["files"] = files
            adds = sum(int(f["additions"]) for f in files)
            dels = sum(int(f["deletions"]) for f in files)
            data["stats"] = {"total": adds + dels, "additions": adds, "deletions": dels}
        return data

    def push_commit(self, r: Repo, c: pygit2.Commit, changes: list[gitdata.FileChange]) -> JSON:
        return {
            "id": str(c.id),
            "tree_id": str(c.tree_id),
            "distinct": True,
            "message": c.message,
            "timestamp": iso(c.commit_time),
            "url": f"{self.base}/{r.full_name}/commit/{c.id}",
            "author": {"name": c.author.name, "email": c.author.email},
            "committer": {"name": c.committer.name, "email": c.committer.email},
            "added": [f.filename for f in changes if f.status == "added"],
            "removed": [f.filename for f in changes if f.status == "removed"],
            "modified": [f.filename for f in changes if f.status not in ("added", "removed")],
        }

    def tree(self, r: Repo, git: pygit2.Repository, t: pygit2.Tree, recursive: bool) -> JSON:
        entries: list[JSON] = []
        self._tree_entries(r, git, t, "", recursive, entries)
        return {
            "sha": str(t.id),
            "url": f"{self.base}/repos/{r.full_name}/git/trees/{t.id}",
            "tree": entries,
            "truncated": False,
        }

    def _tree_entries(
        self,
        r: Repo,
        git: pygit2.Repository,
        t: pygit2.Tree,
        prefix: str,
        rec: bool,
        out: list[JSON],
    ) -> None:
        for e in t:
            path = f"{prefix}{e.name}"
            obj = git[e.id]
            kind = "tree" if isinstance(obj, pygit2.Tree) else "blob"
            item: JSON = {
                "path": path,
                "mode": f"{e.filemode:06o}",
                "type": kind,
                "sha": str(e.id),
                "url": f"{self.base}/repos/{r.full_name}/git/{kind}s/{e.id}",
            }
            if isinstance(obj, pygit2.Blob):
                item["size"] = obj.size
            out.append(item)
            if rec and isinstance(obj, pygit2.Tree):
                self._tree_entries(r, git, obj, path + "/", rec, out)
