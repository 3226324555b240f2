"""This project against the peer libraries tf-explain, Xplique and tf-keras-vis, alternated in one run.

    bash benchmarks/setup_peers.sh          # once: .venv-peers with the peers (the project's .venv stays clean)
    .venv-peers/bin/python benchmarks/compare.py [--models vgg16,resnet50,inception_v3] [--methods ...]
        [--repeat 3] [--min-seconds 4] [--slow-repeat 1] [--slow-models vgg16] [--quick] [--no-ig | --ig-only]
        [--update] [--out docs/benchmarks.md]

The entry point the documents name; the code is the package ``benchmarks/comparison`` (its docstring says
how the libraries are measured, and which module holds what).
"""

from comparison.cli import main

if __name__ == "__main__":
    main()
