def pytest_addoption(parser):
    parser.addoption("--nb-flags", default="", help="nbdev test flags to force, e.g. 'slow'")
