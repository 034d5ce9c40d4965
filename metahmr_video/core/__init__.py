"""Core records and helpers shared by every stage: records, body layout, camera, rotations, boxes,
errors, paths, profiling and the results loader."""
