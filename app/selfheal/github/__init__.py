"""The GitHub edge: App authentication, the REST client and the list of calls the app makes."""
