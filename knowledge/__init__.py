"""The knowledge base the agent answers from: ingestion, chunking, embeddings, the vector store, retrieval."""
