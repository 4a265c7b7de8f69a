"""The graph view's data: the pages of one language and the links between them, as Obsidian's graph
shows a vault (``docs/javascripts/graph.js`` draws it: a local graph on each note, the whole graph on
the graph page).

The links are the backlinks' link table (``obsidian._backlinks``: one parser, one table), so the graph
and the "Linked from" lists cannot disagree. Only pages the build wrote are nodes: a note that is not
published is in no table, so never a node, a title or an edge.
"""

from __future__ import annotations

import json

from . import navigation

#: Groups of the project's own pages, by the first folder of their path inside the language folder.
PROJECT_GROUPS = {"notes": {"zh": "笔记", "en": "Notes"}, "reference": {"zh": "参考", "en": "Reference"}}
#: The home and tags pages of each language, and a learner's notes at the top of docs/ (named as their
#: section of the navigation is).
OTHER_GROUPS = {"home": {"zh": "首页与标签", "en": "Home and tags"}, "folder:": navigation.TITLES}


def group_of(src: str, project: bool) -> str:
    """The group a page is drawn in: the project's folder (notes, reference, home), or ``folder:`` and the
    top folder of a learner's note (``folder:`` alone at the top of docs/), so that a learner's folder
    named like one of the project's (``notes/``) is a group of its own."""
    parts = src.split("/")
    if project:  # <lang>/<folder>/...
        return parts[1] if len(parts) > 2 and parts[1] in PROJECT_GROUPS else "home"
    return "folder:" + (parts[0] if len(parts) > 1 else "")


def graph_data(titles: dict[str, str], urls: dict[str, str], backlinks: dict[str, list[str]],
               is_project, lang: str) -> dict:
    """``{"groups": [{"id", "label"}], "nodes": [{"url", "title", "group"}], "links": [[source, target]]}``
    for the pages in ``urls`` (source path -> URL as built); ``links`` index ``nodes``, each once."""
    srcs = sorted(src for src in urls if src in titles)
    index = {src: i for i, src in enumerate(srcs)}
    nodes = [{"url": urls[src], "title": titles[src], "group": group_of(src, is_project(src))} for src in srcs]
    links = sorted({(index[source], index[target]) for target, sources in backlinks.items() if target in index
                    for source in sources if source in index and source != target})
    labels = {**PROJECT_GROUPS, **OTHER_GROUPS}
    seen = sorted({node["group"] for node in nodes}, key=lambda g: (g not in labels, g != "notes", g.casefold()))
    groups = [{"id": g, "label": labels[g][lang] if g in labels else g.removeprefix("folder:")} for g in seen]
    return {"groups": groups, "nodes": nodes, "links": [list(link) for link in links]}


def graph_script(data: dict) -> str:
    """``assets/graph-<lang>.js``: a script (it loads from file:// too, where fetch() fails)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f"window.VaultGraph = {text};\n"
