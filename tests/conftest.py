import os

from hypothesis import settings

# In CI the property tests are derandomized, so a run is reproducible; locally they explore
# new examples on every run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

