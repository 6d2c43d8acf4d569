"""_common"""
