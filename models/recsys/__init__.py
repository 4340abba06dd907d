"""Artist recommenders benchmarked on the HetRec 2011 Last.fm listening data."""
