"""What every API endpoint shares: who the caller is (authentication), which campaigns they may
reach in which role (`access`), and the permission classes named after their rules."""
