"""_reading"""
