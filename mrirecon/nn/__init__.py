"""Learned solvers (PyTorch): recurrent cells, RIM / CIRIM, RecurrentVarNet, and their configs."""
