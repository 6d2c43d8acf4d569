"""_resolving"""
