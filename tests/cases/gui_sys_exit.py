"""A model file that calls sys.exit() while it is loaded."""

import sys

sys.exit("this script is meant to be run, not imported")
