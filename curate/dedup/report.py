"""The summary `curate dedup` prints: documents in, duplicates removed, clusters, time per phase."""

from __future__ import annotations

from typing import Any

from curate.runs.sources import render_sources


def render_dedup_summary(status: dict[str, Any]) -> str:
    c = status["counts"]
    exact = status["metrics"].get("exact_dedup", {})
    near = status["metrics"].get("minhash_dedup", {})
    lines = [
        f"dedup run {status['run_id']}: {status['state']}, {status['seconds']:.1f} s",
        f"  documents in           {c['input']:>10,}",
        f"  quarantined (bad)      {sum(c['quarantined'].values()):>10,}",
        f"  exact duplicates       {c['removed'].get('exact_duplicate', 0):>10,}"
        f"   in {exact.get('duplicate_groups', 0):,} groups (largest {exact.get('largest_group', 0)})",
        f"  near duplicates        {c['removed'].get('near_duplicate', 0):>10,}"
        f"   in {near.get('clusters', 0):,} clusters (largest {near.get('largest_cluster', 0)})",
        f"  kept                   {c['kept']:>10,}",
    ]
    if near:
        curve = "  ".join(f"{s:.2f}:{p:.2f}" for s, p in near["s_curve"])
        lines += [
            f"  LSH                    {near['lsh_bands']} bands x {near['lsh_rows']} rows, 50% point "
            f"J={near['lsh_half_point']:.3f}; P(candidate) at J {curve}",
            f"  pairs                  {near['candidate_pairs']:,} candidates, "
            f"{near['verified_pairs']:,} verified",
        ]
        if near.get("cluster_mode") == "star":
            lines.append(
                f"  stars                  {near['kept_by_star']:,} of the {near['removed_by_components']:,} "
                "documents components would remove are kept (not near their cluster's kept document); "
                f"{near['star_rounds']} rounds"
            )
        seconds = near["seconds"]
        lines.append("  seconds (near)         " + ", ".join(f"{k} {v:.2f}" for k, v in seconds.items()))
    if exact:
        lines.append(
            f"  seconds (exact)        hash {exact['seconds_hash']:.2f}, group {exact['seconds_group']:.2f}"
        )
    for keeper, size in near.get("giant_clusters", []):
        lines.append(
            f"  WARNING giant cluster  {size:,} documents kept as {keeper!r}: likely a template over-merge"
        )
    lines += render_sources(status.get("sources"))
    lines.append(f"  output                 {status['output']['dir']}")
    return "\n".join(lines)
