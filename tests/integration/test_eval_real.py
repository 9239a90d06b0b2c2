"""Integration: a 10-question retrieval-only eval on the repo's data/, with the real embedder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from docqa.api import evaluate, ingest
from docqa.config import Settings

from ..conftest import REPO

pytestmark = pytest.mark.integration

# Debian FAQ 11.1 questions (test split of ../shared/corpora/eval, answers cut after their 40th
# content word, all the containment rule reads), 4 English and 4 French.
FAQ = [
    {
        "id": "s3.1.6-en",
        "question": "You are talking about testing being broken. What do you mean by that?",
        "answer": (
            "Sometimes, a package might not be installable through package management tools. "
            "Sometimes, a package might not be available at all, maybe it was (temporarily) "
            "removed due to bugs or unmet dependencies. Sometimes, a package installs but does "
            "not behave in the proper way. When these things happen, the distribution is said to "
            "be broken (at least for this package)."
        ),
        "lang": "en",
    },
    {
        "id": "papersize-en",
        "question": "How can I ensure that all programs use the same paper size?",
        "answer": (
            "Install the libpaper1 package, and it will ask you for a system-wide default paper "
            "size. This setting will be kept in the file /etc/papersize . Users can override the "
            "paper size setting using the PAPERSIZE environment variable. For details, see the "
            "manual page papersize (5) ."
        ),
        "lang": "en",
    },
    {
        "id": "remoteinstall-en",
        "question": "Can I get and install Debian directly from a remote Internet site?",
        "answer": (
            "Yes. You can boot the Debian installation system from a set of files you can "
            "download from our archive site and its mirrors. You can download a small CD image "
            "file, create a bootable CD from it, install the basic system from it and the rest "
            "over the network. For more information please see https://www.debian.org/CD/netinst/"
            " ."
        ),
        "lang": "en",
    },
    {
        "id": "puttingonhold-en",
        "question": "How do I put a package on hold?",
        "answer": (
            "There are three ways of holding back packages, with dpkg, apt or aptitude. With "
            "dpkg, you have to export the list of package selections, with: dpkg --get-selections"
            " \\* > selections.txt Then edit the resulting file selections.txt , change the line "
            "containing the package you wish to hold, e.g. libc6 , from this: libc6 install to "
            "this: libc6 hold Save the file, and reload it into dpkg"
        ),
        "lang": "en",
    },
    {
        "id": "s3.1.6-fr",
        "question": "Vous parlez de cas où testing est cassée. Qu'entendez-vous par là ?",
        "answer": (
            "Parfois, un paquet peut ne pas être installable par les outils de gestion des "
            "paquets. Parfois, un paquet peut ne pas être disponible du tout, éventuellement "
            "supprimé temporairement en raison de bogues ou de dépendances non résolues. Enfin, "
            "un paquet peut s'installer mais ne pas offrir un comportement satisfaisant. Lorsque "
            "cela arrive, on dit que la distribution est cassée (du moins pour ce paquet)."
        ),
        "lang": "fr",
    },
    {
        "id": "papersize-fr",
        "question": (
            "Comment puis-je m'assurer que tous les programmes utilisent le même format de papier ?"
        ),
        "answer": (
            "Installez le paquet libpaper1 , il vous sera demandé d'indiquer le format de papier "
            "utilisé sur le système. Cette configuration sera sauvegardée dans le fichier "
            "/etc/papersize . Les utilisateurs peuvent modifier la configuration du format de "
            "papier en utilisant la variable d'environnement PAPERSIZE . Pour plus "
            "d'informations, reportez-vous à la page de manuel papersize (5) ."
        ),
        "lang": "fr",
    },
    {
        "id": "remoteinstall-fr",
        "question": "Puis-je installer directement depuis un site Internet distant ?",
        "answer": (
            "Yes. You can boot the Debian installation system from a set of files you can "
            "download from our archive site and its mirrors. Vous pouvez télécharger une petite "
            "image de CD, créer avec elle un CD amorçable, installer le système de base à partir "
            "de l'image puis finir l'installation à travers"
        ),
        "lang": "fr",
    },
    {
        "id": "puttingonhold-fr",
        "question": "Comment est-ce que je mets un paquet en « hold » ?",
        "answer": (
            "Il y a trois moyens de bloquer un paquet, avec dpkg, apt ou aptitude. Avec dpkg, "
            "vous devez exporter la liste de sélection des paquets, avec la commande : dpkg "
            "--get-selections \\* > selections.txt puis éditer le fichier selections.txt , changer"
            " la ligne contenant le paquet que vous souhaitez conserver, par exemple pour libc6 ,"
            " de ceci : libc6 install à ceci : libc6 hold sauvegarder"
        ),
        "lang": "fr",
    },
]
# Two questions judged by file, not by answer.
BY_FILE = [
    ("How many boats does the field station own?", "field-station-handbook.md"),
    ("Comment mettre à jour Debian vers une nouvelle version ?", "debian-faq.fr.pdf"),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    work = tmp_path_factory.mktemp("eval")
    shutil.copytree(REPO / "data", work / "data")
    settings = Settings(store=work / ".docqa")
    report = ingest(work / "data", settings)
    assert not report.failed and report.chunks > 0
    rows = [
        *FAQ,
        *({"id": f"file{i}", "question": q, "sources": [f]} for i, (q, f) in enumerate(BY_FILE)),
    ]
    path = work / "questions.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return settings, path


def test_retrieval_only_eval_finds_most_answers(setup: tuple[Settings, Path]) -> None:
    settings, path = setup
    report = evaluate(path, settings, retrieval_only=True, modes=["dense", "bm25", "hybrid"])
    assert len(report.rows) == 10
    by_mode = {s.mode: s for s in report.retrieval() if s.lang == "all"}
    assert set(by_mode) == {"dense", "bm25", "hybrid"}
    for summary in by_mode.values():
        assert summary.questions == 10
        assert summary.hit_rate is not None and summary.hit_rate >= 0.8, summary
        assert summary.mrr is not None and summary.mrr >= 0.5, summary
    assert not report.warnings, report.warnings  # every gold answer is in some chunk
