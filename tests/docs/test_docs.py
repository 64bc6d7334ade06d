#!/usr/bin/env python3
"""The README against the repository: its quick-start figures are the committed record's
(tools/readme_figures.py, docs/figures/quickstart.json), its list of docs pages is docs/*.md, and
its list of test suites is the suites the Meson files declare, none named like the project.

    python3 tests/docs/test_docs.py SOURCE_ROOT
"""
import glob
import json
import os
import re
import sys
import tempfile
import unittest

ROOT = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import readme_figures  # noqa: E402


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def section(text, heading):
    """The text under a `## heading`, up to the next heading of that level."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


class QuickstartFigures(unittest.TestCase):
    def test_readme_block_is_the_records(self):
        self.assertEqual(readme_figures.check(os.path.join(ROOT, "README.md"),
                                              os.path.join(ROOT, readme_figures.RECORD)), [])

    def test_record_names_its_date_command_and_source(self):
        record = readme_figures.load_record(os.path.join(ROOT, readme_figures.RECORD))
        self.assertRegex(record["date"], r"^\d{4}-\d{2}-\d{2}$")
        self.assertIn("tools/quickstart.sh main", record["command"])

    def test_a_changed_figure_is_caught(self):
        record = readme_figures.load_record(os.path.join(ROOT, readme_figures.RECORD))
        record["runs"]["mttt_mlp"]["accuracy"] = 0.123
        with tempfile.TemporaryDirectory() as work:
            path = os.path.join(work, "record.json")
            with open(path, "w") as f:
                json.dump(record, f)
            self.assertNotEqual(readme_figures.check(os.path.join(ROOT, "README.md"), path), [])

    def test_malformed_records_are_refused(self):
        record = readme_figures.load_record(os.path.join(ROOT, readme_figures.RECORD))
        for key, value in (("date", "yesterday"), ("main_job_seconds", -1), ("runs", {})):
            broken = dict(record, **{key: value})
            with self.assertRaises(SystemExit, msg=key):
                readme_figures.validate(broken, "test")
        broken = json.loads(json.dumps(record))
        broken["runs"]["demo"]["accuracy"] = 75
        with self.assertRaises(SystemExit):
            readme_figures.validate(broken, "test")

    def test_figures_come_from_a_runs_metrics(self):
        with tempfile.TemporaryDirectory() as run:
            with open(os.path.join(run, "metrics.jsonl"), "w") as f:
                f.write('{"kind":"train","step":1,"loss":2.3}\n')
                f.write('{"kind":"eval","epoch":1,"accuracy":0.41,"train_seconds":30.25}\n\n')
                f.write('{"kind":"eval","epoch":2,"accuracy":0.5,"train_seconds":29.75}\n')
            self.assertEqual(readme_figures.read_run(run), {"epochs": 2, "accuracy": 0.5, "train_seconds": 60.0})
            with open(os.path.join(run, "metrics.jsonl"), "w") as f:
                f.write('{"kind":"train","step":1,"loss":2.3}\n')
            with self.assertRaises(SystemExit):  # no evaluation record: the run did not finish an epoch
                readme_figures.read_run(run)
        with self.assertRaises(SystemExit):
            readme_figures.read_run(os.path.join(ROOT, "no-such-run"))

    def test_markers_must_appear_once(self):
        with self.assertRaises(SystemExit):
            readme_figures.readme_block("text without markers", "test")
        twice = readme_figures.BEGIN + readme_figures.END
        with self.assertRaises(SystemExit):
            readme_figures.readme_block(twice + twice, "test")


class DocsPages(unittest.TestCase):
    def test_readme_lists_every_docs_page(self):
        row = next(line for line in section(read("README.md"), "Layout").splitlines() if line.startswith("| `docs/`"))
        listed = set(re.findall(r"`([\w.-]+\.md)`", row))
        pages = {os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "docs", "*.md"))}
        self.assertEqual(listed, pages)


class TestSuites(unittest.TestCase):
    def declared_suites(self):
        suites = set()
        for path in glob.glob(os.path.join(ROOT, "**", "meson.build"), recursive=True):
            if "subprojects" in os.path.relpath(path, ROOT).split(os.sep):
                continue
            with open(path) as f:
                text = f.read()
            suites |= set(re.findall(r"suite:\s*'([\w-]+)'", text))
            suites |= set(re.findall(r"\[files\([^()]*\),\s*'([\w-]+)'", text))  # tests/*: name -> [sources, suite, ...]
        return suites

    def test_no_suite_is_named_like_the_project(self):
        project = re.search(r"project\('([\w-]+)'", read("meson.build")).group(1)
        self.assertNotIn(project, self.declared_suites())

    def test_readme_lists_every_suite(self):
        tests = section(read("README.md"), "Tests")
        sentence = tests[tests.index("The suites:"):]
        sentence = sentence[:sentence.index(". ")]
        listed = set(re.findall(r"`([\w-]+)`", sentence))  # paths and commands have / or spaces
        self.assertEqual(listed, self.declared_suites())


if __name__ == "__main__":
    unittest.main(verbosity=2)
