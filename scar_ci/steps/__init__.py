"""The GitHub Action's pipeline: validate -> build and plan -> apply -> smoke -> summary."""
